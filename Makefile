# The two commands of README.md, as thin wrappers over CMake.
#
#   make test   install missing Debian packages, configure, build, run every test (CTest)
#   make bench  the same build, then bench/run_bench.py (Debian's python3 with torch, Node.js)
#   make demo   the same build, then compile the bundled model (models/coins.unet) into a library,
#               segment the bundled photograph with it and compare the mask with the bundled label;
#               then install the SDK into $(BUILD)/sdk and build examples/app against it
#
# BUILD, JOBS and OUT (where the demo writes) can be overridden: `make test BUILD=build-mine JOBS=4`.

BUILD ?= build
JOBS ?= 2
UNETGEN := $(BUILD)/cli/unetgen
APP_BUILD := $(BUILD)/demo-app
SDK := $(BUILD)/sdk
OUT ?= generated
# Quieter output from the make that cmake --build runs underneath.
MAKEFLAGS += --no-print-directory

.PHONY: test demo bench deps configure build clean

deps:
	@tools/install_deps.sh

# Re-running CMake on a configured folder takes well under a second.
configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The demo does what a user would: `unetgen build` and `unetgen run` on the command line, then the
# example application (examples/app, built against the SDK installed from $(BUILD) the way
# examples/README.md shows, with the same network linked in statically) for the overlay picture and the IoU against
# the bundled label.
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target unetgen unetgen_runtime unetgen_runtime_shared
	$(UNETGEN) build models/coins.unet -o $(OUT)/coins
	$(UNETGEN) run $(OUT)/coins -w models/coins.safetensors -i models/coins.png -o $(OUT)/coins_mask.png
	cmake --install $(BUILD) --prefix $(SDK) >/dev/null
	cmake -S examples/app -B $(APP_BUILD) -DCMAKE_PREFIX_PATH=$(abspath $(SDK)) >/dev/null
	cmake --build $(APP_BUILD) -j $(JOBS)
	$(APP_BUILD)/segment_png models/coins.safetensors models/coins.png $(OUT)/coins_mask_app.png \
	    --overlay $(OUT)/coins_overlay.png --label models/coins_label.png
	@echo "demo: input models/coins.png, mask $(OUT)/coins_mask.png, overlay $(OUT)/coins_overlay.png"

# unetgen against ONNX Runtime and PyTorch, side by side (writes bench/RESULTS.md, bench/results.png).
bench: build
	/usr/bin/python3 bench/run_bench.py --unetgen $(UNETGEN)

clean:
	rm -rf $(BUILD)
