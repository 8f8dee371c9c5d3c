# check_deb.cmake — cmake -DBUILD=<unetgen build> -DWORK=<dir> -P check_deb.cmake
# Runs cpack (DEB) on BUILD into WORK and checks the package's metadata and that it holds the
# compiler, both runtimes, the headers, the CMake package and the Python package under /usr.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND cpack -G DEB -B ${WORK} --config ${BUILD}/CPackConfig.cmake
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if (NOT rc EQUAL 0)
  message(FATAL_ERROR "cpack failed (${rc}):\n${out}")
endif ()
file(GLOB debs ${WORK}/*.deb)
list(LENGTH debs n)
if (NOT n EQUAL 1)
  message(FATAL_ERROR "cpack made ${n} .deb files in ${WORK}, expected 1")
endif ()
execute_process(COMMAND dpkg-deb --info ${debs} OUTPUT_VARIABLE info RESULT_VARIABLE rc1)
execute_process(COMMAND dpkg-deb --contents ${debs} OUTPUT_VARIABLE contents RESULT_VARIABLE rc2)
if (NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "dpkg-deb cannot read ${debs}")
endif ()
foreach (want "Package: unetgen" "Depends: .*libhalide14" "Depends: .*gcc")
  if (NOT info MATCHES "${want}")
    message(FATAL_ERROR "${debs}: its control data lacks '${want}':\n${info}")
  endif ()
endforeach ()
foreach (path ./usr/bin/unetgen ./usr/lib/libunetgen_runtime.a ./usr/lib/libunetgen_runtime.so
              ./usr/include/unetgen/unetgen.h ./usr/include/unetgen/HalideRuntime.h
              ./usr/lib/cmake/unetgen/unetgenConfig.cmake ./usr/lib/python3/dist-packages/unetgen/__init__.py
              ./usr/share/unetgen/models/coins.unet)
  string(FIND "${contents}" "${path}" at)
  if (at EQUAL -1)
    message(FATAL_ERROR "${debs} does not hold ${path}:\n${contents}")
  endif ()
endforeach ()
message(STATUS "debian package ${debs}: control data and contents as expected")
