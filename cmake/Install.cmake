# Installs libtorsion, its headers (include/torsion/<subsystem>/*.hpp), a CMake package
# (find_package(torsion) -> torsion::torsion) and a pkg-config file (torsion.pc).
include(CMakePackageConfigHelpers)

set(TORSION_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/torsion)

install(TARGETS torsion EXPORT torsionTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Every public header, keeping its folder: torsion/defer/failure.hpp ->
# <prefix>/include/torsion/defer/failure.hpp. Globbed (not install(DIRECTORY)) so that source-only
# folders do not leave empty directories behind.
file(GLOB_RECURSE _torsion_public_headers CONFIGURE_DEPENDS
     RELATIVE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/torsion/*.hpp)
foreach(_header IN LISTS _torsion_public_headers)
  get_filename_component(_dir ${_header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${_header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${_dir})
endforeach()

install(EXPORT torsionTargets NAMESPACE torsion:: DESTINATION ${TORSION_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/torsionConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/torsionConfig.cmake
                              INSTALL_DESTINATION ${TORSION_INSTALL_CMAKEDIR})
# 0.x: a minor version bump may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/torsionConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/torsionConfig.cmake
              ${PROJECT_BINARY_DIR}/torsionConfigVersion.cmake
        DESTINATION ${TORSION_INSTALL_CMAKEDIR})

# pkg-config. Paths are relative to ${prefix} so the installed tree can be moved.
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TORSION_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(TORSION_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TORSION_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(TORSION_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
# OpenSSL (torsion/tls) is private to the library: a shared libtorsion links it itself
# (Requires.private), a static one leaves it to its users (Requires, as plain `pkg-config
# --libs` ignores the private list).
get_target_property(_torsion_type torsion TYPE)
if(_torsion_type STREQUAL "STATIC_LIBRARY")
  set(TORSION_PC_REQUIRES_OPENSSL "openssl >= 3")
  set(TORSION_PC_REQUIRES_PRIVATE_OPENSSL "")
else()
  set(TORSION_PC_REQUIRES_OPENSSL "")
  set(TORSION_PC_REQUIRES_PRIVATE_OPENSSL "openssl >= 3")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/torsion.pc.in ${PROJECT_BINARY_DIR}/torsion.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/torsion.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
