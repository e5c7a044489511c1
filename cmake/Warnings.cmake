function(torsion_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         $<$<BOOL:${TORSION_WERROR}>:-Werror>)
endfunction()
