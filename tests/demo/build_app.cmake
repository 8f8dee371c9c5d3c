# build_app.cmake — configure and build examples/app on its own, as a user of a built unetgen
# would (cmake -S examples/app -DUNETGEN_BUILD_DIR=...), into BINARY_DIR.
#   cmake -DSOURCE_DIR=<examples/app> -DBINARY_DIR=<dir> -DUNETGEN_BUILD_DIR=<build> -DGENERATOR=<g> -P build_app.cmake
foreach (var SOURCE_DIR BINARY_DIR UNETGEN_BUILD_DIR GENERATOR)
  if (NOT DEFINED ${var})
    message(FATAL_ERROR "cannot build the example app: ${var} is not set")
  endif ()
endforeach ()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR}
                        -DUNETGEN_BUILD_DIR=${UNETGEN_BUILD_DIR}
                RESULT_VARIABLE rc)
if (NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot configure examples/app against ${UNETGEN_BUILD_DIR} (exit ${rc})")
endif ()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} -j 2 RESULT_VARIABLE rc)
if (NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot build examples/app (exit ${rc})")
endif ()
