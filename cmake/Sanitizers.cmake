# TORSION_SANITIZE=address,undefined (the CI ASan+UBSan build) or thread (TSan).
# The flags apply to this build only: an installed library does not impose them downstream.
if(TORSION_SANITIZE)
  set(_san_flags -fsanitize=${TORSION_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${_san_flags})
  add_link_options(${_san_flags})
  target_compile_options(torsion PRIVATE ${_san_flags})
  target_link_options(torsion PUBLIC $<BUILD_INTERFACE:${_san_flags}>)
endif()
