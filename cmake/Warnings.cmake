function(torsion_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         $<$<BOOL:${TORSION_WERROR}>:-Werror>
                         # g++ 12 at -O3 reports impossible overlaps inside std::string's
                         # operator+ (GCC bug 105651, fixed in 13): a false positive.
                         $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
endfunction()
