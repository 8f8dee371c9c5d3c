# unetgen.cmake — build a U-Net spec into a library as part of a CMake project.
#
#   unetgen_add_library(seg SPEC my.unet [TARGETS host x86-64-linux-avx2 ...] [OUTPUT_DIR dir])
#   target_link_libraries(app PRIVATE seg)      # then: #include "seg_unetgen.h" (or .hpp)
#
# Runs `unetgen build` at build time (re-run when the spec or the unetgen executable changes) and
# defines `seg`: an imported static library (seg.a: the pipeline and its Halide runtime) that
# brings the generated headers' directory and the unetgen runtime with it, and links through the
# C++ driver (the runtime is C++), so a C application links too. find_package(unetgen) includes
# this file with UNETGEN_EXECUTABLE set to the installed compiler; inside the unetgen project the
# `unetgen` and `unetgen_runtime` targets are used.
include_guard(GLOBAL)

function(unetgen_add_library name)
  cmake_parse_arguments(ARG "" "SPEC;OUTPUT_DIR" "TARGETS" ${ARGN})
  if (NOT ARG_SPEC)
    message(FATAL_ERROR "unetgen_add_library(${name}): cannot build without a spec: pass SPEC <file.unet>")
  endif ()
  if (ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "unetgen_add_library(${name}): cannot use arguments ${ARG_UNPARSED_ARGUMENTS}: "
                        "the keywords are SPEC, TARGETS and OUTPUT_DIR")
  endif ()
  if (NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "unetgen_add_library(${name}): cannot name a library '${name}': it must be a C identifier")
  endif ()
  get_filename_component(spec "${ARG_SPEC}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if (ARG_OUTPUT_DIR)
    get_filename_component(out "${ARG_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  else ()
    set(out "${CMAKE_CURRENT_BINARY_DIR}/unetgen/${name}")
  endif ()

  if (TARGET unetgen)
    set(exe "$<TARGET_FILE:unetgen>")
    set(exe_dep unetgen)
  elseif (UNETGEN_EXECUTABLE AND EXISTS "${UNETGEN_EXECUTABLE}")
    set(exe "${UNETGEN_EXECUTABLE}")
    set(exe_dep "${UNETGEN_EXECUTABLE}")
  else ()
    message(FATAL_ERROR "unetgen_add_library(${name}): cannot find the unetgen compiler: use "
                        "find_package(unetgen CONFIG REQUIRED) (with CMAKE_PREFIX_PATH naming the install prefix), "
                        "which sets UNETGEN_EXECUTABLE")
  endif ()
  if (TARGET unetgen_runtime)
    set(runtime unetgen_runtime)
  elseif (TARGET unetgen::runtime)
    set(runtime unetgen::runtime)
  else ()
    message(FATAL_ERROR "unetgen_add_library(${name}): cannot link without the unetgen runtime: "
                        "use find_package(unetgen CONFIG REQUIRED) first")
  endif ()
  set(target_args "")
  foreach (t IN LISTS ARG_TARGETS)
    list(APPEND target_args --target "${t}")
  endforeach ()

  set(outputs "${out}/${name}.a" "${out}/${name}.h" "${out}/${name}_unetgen.h" "${out}/${name}_unetgen.hpp"
              "${out}/${name}.manifest.json" "${out}/${name}.so" "${out}/build.json")
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${exe} build "${spec}" -o "${out}" --name ${name} ${target_args}
    DEPENDS "${spec}" ${exe_dep}
    COMMENT "unetgen build ${name} (${spec})"
    VERBATIM)
  add_custom_target(${name}_unetgen_build DEPENDS ${outputs})

  # The include directory must exist when CMake generates (imported targets are checked).
  file(MAKE_DIRECTORY "${out}")
  add_library(${name} STATIC IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES IMPORTED_LOCATION "${out}/${name}.a"
                                           INTERFACE_INCLUDE_DIRECTORIES "${out}")
  add_dependencies(${name} ${name}_unetgen_build)
  find_package(Threads REQUIRED)
  # The pipeline's Halide runtime needs libm, threads and dl; the unetgen runtime is C++.
  set_property(TARGET ${name} APPEND PROPERTY INTERFACE_LINK_LIBRARIES ${runtime} Threads::Threads ${CMAKE_DL_LIBS} m)
  set_property(TARGET ${name} PROPERTY IMPORTED_LINK_INTERFACE_LANGUAGES CXX)
endfunction()
