# check_install.cmake — the SDK as a user gets it, with no source tree in sight:
#   cmake -DBUILD=<unetgen build> -DSOURCE=<repo> -DWORK=<scratch dir> -DGENERATOR=<g> -P check_install.cmake
#
# 1. `cmake --install BUILD --prefix WORK/prefix`;
# 2. no installed file names the source tree or the build tree (the compiler finds its headers
#    beside itself, the CMake package is relocatable);
# 3. examples/app and tests/install/c_app, copied to WORK (out of the source tree), configured
#    with only CMAKE_PREFIX_PATH=WORK/prefix, built and run on the installed demo model.
foreach (var BUILD SOURCE WORK GENERATOR)
  if (NOT DEFINED ${var})
    message(FATAL_ERROR "check_install.cmake needs -D${var}=...")
  endif ()
endforeach ()

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if (NOT rc EQUAL 0)
    message(FATAL_ERROR "install check: ${what} failed (${rc}):\n${out}")
  endif ()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)
step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})

file(GLOB_RECURSE installed ${prefix}/*)
foreach (f ${installed})
  if (f MATCHES "\\.(cmake|h|hpp|unet|py|json|txt)$")
    file(READ ${f} text)
  else ()
    file(STRINGS ${f} text)  # printable strings of a binary (bin/unetgen, the libraries)
  endif ()
  foreach (tree ${SOURCE} ${BUILD})
    string(FIND "${text}" "${tree}/" at)
    if (NOT at EQUAL -1)
      message(FATAL_ERROR "install check: ${f} names ${tree}: an installed SDK must not depend on it")
    endif ()
  endforeach ()
endforeach ()
list(LENGTH installed count)
message(STATUS "install check: ${count} files in ${prefix}, none names the source or build tree")

foreach (app examples/app tests/install/c_app)
  get_filename_component(name ${app} NAME)
  file(COPY ${SOURCE}/${app}/ DESTINATION ${WORK}/${name}_src)
  step("configure ${app}" ${CMAKE_COMMAND} -S ${WORK}/${name}_src -B ${WORK}/${name}_build -G ${GENERATOR}
       -DCMAKE_PREFIX_PATH=${prefix})
  step("build ${app}" ${CMAKE_COMMAND} --build ${WORK}/${name}_build -j 2)
endforeach ()

set(models ${prefix}/share/unetgen/models)
step("run segment_png" ${WORK}/app_build/segment_png ${models}/coins.safetensors ${models}/coins.png
     ${WORK}/coins_mask.png --label ${models}/coins_label.png --min-iou 0.985)
message(STATUS "install check: ${step_output}")
step("run c_app" ${WORK}/c_app_build/c_app ${models}/coins.safetensors)
message(STATUS "install check: ${step_output}")
if (NOT step_output MATCHES "coins segmented 64x64")
  message(FATAL_ERROR "install check: c_app printed no result")
endif ()

# The installed Python package finds the installed runtime by itself and segments with the
# library the C application's build made (Debian's python3 with numpy; PYTHONPATH is the prefix's
# dist-packages, which Debian's python3 reads by default when the prefix is /usr).
set(py "import unetgen, numpy as np, os
m = unetgen.load('${WORK}/c_app_build/unetgen/coins', '${models}/coins.safetensors')
from unetgen import _native
assert os.path.realpath(_native.lib()._name).startswith(os.path.realpath('${prefix}')), _native.lib()._name
mask = m.segment(np.zeros((64, 80), np.uint8))
print('python:', m, mask.shape, mask.dtype, 'runtime', _native.lib()._name)")
step("the installed Python package" ${CMAKE_COMMAND} -E env PYTHONPATH=${prefix}/lib/python3/dist-packages
     /usr/bin/python3 -c "${py}")
message(STATUS "install check: ${step_output}")
if (NOT step_output MATCHES "python: <unetgen.Model coins.*\\(64, 80\\) uint8")
  message(FATAL_ERROR "install check: the Python package printed no result")
endif ()
