# The two commands of README.md, as thin wrappers over CMake.
#
#   make test   install missing Debian packages, configure, build, run every test (CTest)
#   make demo   the same build, then compile the bundled model (models/coins.unet) into a library,
#               segment the bundled photograph with it and compare the mask with the bundled label
#
# BUILD and JOBS can be overridden: `make test BUILD=build-mine JOBS=4`.

BUILD ?= build
JOBS ?= 2
UNETGEN := $(BUILD)/cli/unetgen
APP := $(BUILD)/examples/app/segment_png
OUT := generated

.PHONY: test demo deps configure build clean

deps:
	@tools/install_deps.sh

# Configure once; later builds re-run CMake by themselves when a CMakeLists.txt changes.
configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure

# The demo does what a user would: `unetgen build` then `unetgen run` on the command line, and the
# example application (examples/app, linked statically against the same network) for the overlay
# picture and the IoU against the label.
demo: build
	$(UNETGEN) build models/coins.unet -o $(OUT)/coins
	$(UNETGEN) run $(OUT)/coins models/coins.safetensors models/coins.png -o $(OUT)/coins_mask.png
	$(APP) models/coins.safetensors models/coins.png $(OUT)/coins_app_mask.png \
	    --overlay $(OUT)/coins_overlay.png --label models/coins_label.png

clean:
	rm -rf $(BUILD)
