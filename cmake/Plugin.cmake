# torsion_add_plugin(TARGET SOURCES...): a torsiond plugin library (a MODULE that torsiond
# dlopen()s from TORSION_PLUGIN_PATH; see torsion/app/plugin.hpp). The output is TARGET.so
# (no "lib" prefix).
#
# It is compiled against torsion's headers but NOT linked to libtorsion: torsiond exports the
# library's symbols and the plugin resolves them there at load time. A second copy of the
# library inside the plugin would bring its own globals (the log publisher, the default
# network of a reactor), and the plugin would log to nowhere. Only header-only dependencies
# (nlohmann_json, CLI11, fmt's headers) are used here for the same reason. Under
# TORSION_SANITIZE the directory-wide flags of cmake/Sanitizers.cmake apply to it as to
# everything else, so it loads into the sanitized torsiond.
function(torsion_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_include_directories(${target} PRIVATE
    $<TARGET_PROPERTY:torsion,INTERFACE_INCLUDE_DIRECTORIES>
    $<TARGET_PROPERTY:fmt::fmt,INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_definitions(${target} PRIVATE
    $<TARGET_PROPERTY:fmt::fmt,INTERFACE_COMPILE_DEFINITIONS>)
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_link_libraries(${target} PRIVATE nlohmann_json::nlohmann_json CLI11::CLI11)
  set_target_properties(${target} PROPERTIES PREFIX "")
  torsion_warnings(${target})
endfunction()
