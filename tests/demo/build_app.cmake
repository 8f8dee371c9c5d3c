# build_app.cmake — install this build as an SDK into BINARY_DIR/sdk and build examples/app
# against it, as a user would (cmake --install, then cmake -S examples/app -DCMAKE_PREFIX_PATH=...).
#   cmake -DSOURCE_DIR=<examples/app> -DBINARY_DIR=<dir> -DUNETGEN_BUILD_DIR=<build> -DGENERATOR=<g> -P build_app.cmake
foreach (var SOURCE_DIR BINARY_DIR UNETGEN_BUILD_DIR GENERATOR)
  if (NOT DEFINED ${var})
    message(FATAL_ERROR "cannot build the example app: ${var} is not set")
  endif ()
endforeach ()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${UNETGEN_BUILD_DIR} --prefix ${BINARY_DIR}/sdk
                RESULT_VARIABLE rc OUTPUT_QUIET)
if (NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot install ${UNETGEN_BUILD_DIR} into ${BINARY_DIR}/sdk (exit ${rc})")
endif ()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR}
                        -DCMAKE_PREFIX_PATH=${BINARY_DIR}/sdk
                RESULT_VARIABLE rc)
if (NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot configure examples/app against ${BINARY_DIR}/sdk (exit ${rc})")
endif ()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} -j 2 RESULT_VARIABLE rc)
if (NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot build examples/app (exit ${rc})")
endif ()
