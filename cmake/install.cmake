# install.cmake — `cmake --install BUILD --prefix P` and the .deb (`cpack -G DEB` in BUILD).
#
#   P/bin/unetgen                          the compiler
#   P/lib/libunetgen_runtime.{a,so}        the runtime, static and shared
#   P/include/unetgen/                     unetgen.h, unetgen.hpp, unetgen_network.h, unetgen_pool.h and Halide's
#                                          runtime headers (HalideRuntime.h, HalideRuntimeCuda.h)
#   P/lib/cmake/unetgen/                   find_package(unetgen): unetgen::runtime,
#                                          unetgen::runtime_shared, unetgen_add_library()
#   P/share/unetgen/{models,specs}         the bundled model and the example specs
#   P/lib/python3/dist-packages/unetgen    the Python package (Debian's python3 path)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS unetgen RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS unetgen_runtime unetgen_runtime_shared EXPORT unetgenTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${UNETGEN_SDK_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/unetgen)

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/unetgen)
install(EXPORT unetgenTargets NAMESPACE unetgen:: DESTINATION ${config_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/unetgenConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/unetgenConfig.cmake INSTALL_DESTINATION ${config_dir}
                              PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/unetgenConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/unetgenConfig.cmake ${CMAKE_BINARY_DIR}/unetgenConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/unetgen.cmake DESTINATION ${config_dir})

install(FILES ${PROJECT_SOURCE_DIR}/models/coins.unet ${PROJECT_SOURCE_DIR}/models/coins.safetensors
              ${PROJECT_SOURCE_DIR}/models/coins.png ${PROJECT_SOURCE_DIR}/models/coins_label.png
        DESTINATION ${CMAKE_INSTALL_DATADIR}/unetgen/models)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/specs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/unetgen/specs
        FILES_MATCHING PATTERN "*.unet")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/unetgen DESTINATION ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages
        PATTERN "__pycache__" EXCLUDE)

# The .deb: what the SDK needs at build time of an application (a C/C++ compiler to link NAME.so)
# and what the compiler binary links (Halide, LLVM, libpng, libtiff, fmt through Debian's shared
# libraries: shlibdeps finds them).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME unetgen)
set(CPACK_PACKAGE_VENDOR "unetgen")
set(CPACK_PACKAGE_CONTACT "unetgen developers <unetgen@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "U-Net compiler: spec files to native segmentation libraries (Halide AOT)")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "gcc, libc6-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-numpy, python3-dask, python3-distributed")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
