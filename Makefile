GO ?= go
BIN := bin
# A pipe into tee fails when its command fails.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: all build proto test bench images vet fmt-check clean referee gobench onnxruntime

all: build

# The CLI and every solver plugin of the repository (each package
# .../cmd/ipbench-solver-NAME becomes bin/plugins/ipbench-solver-NAME). The
# Python example plugins (plugins/python/examples: solvers, and the model
# plugins ipbench-model-torch and ipbench-model-gmm) are scripts, copied with
# the Python SDK beside them; they run under Debian's /usr/bin/python3.
build:
	$(GO) build -o $(BIN)/ipbench ./harness/cmd/ipbench
	@for pkg in $$($(GO) list ./... | grep '/cmd/ipbench-solver-'); do \
		echo "$(GO) build -o $(BIN)/plugins/$${pkg##*/} $$pkg"; \
		$(GO) build -o $(BIN)/plugins/$${pkg##*/} $$pkg || exit 1; \
	done
	mkdir -p $(BIN)/plugins && rm -rf $(BIN)/plugins/ipbench_plugin
	cp -R plugins/python/ipbench_plugin $(BIN)/plugins/ipbench_plugin
	find $(BIN)/plugins/ipbench_plugin -name __pycache__ -prune -exec rm -rf {} +
	cp plugins/python/examples/ipbench-solver-* plugins/python/examples/ipbench-model-* $(BIN)/plugins/

# Regenerate the plugin protocol's Go code and the Python SDK's stubs
# (plugins/python/ipbench_plugin: ipbench.proto, go-plugin's own protos from
# the module cache, the gRPC health service). Needs Debian's protobuf-compiler
# and, for the Python services, protobuf-compiler-grpc (grpc_python_plugin,
# gRPC 1.51); without it python3-grpc-tools' generator writes them. The
# messages always come from Debian's protoc 3.21: python3-grpc-tools bundles
# protoc 3.5, whose message code protobuf 3.21's Python runtime refuses.
PY_PROTOS := ipbench_plugin/ipbench.proto ipbench_plugin/goplugin/grpc_broker.proto \
	ipbench_plugin/goplugin/grpc_controller.proto ipbench_plugin/goplugin/grpc_stdio.proto \
	ipbench_plugin/health/health.proto
proto:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	cd plugins/proto && PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative ipbench.proto
	gp=$$($(GO) list -m -f '{{.Dir}}' github.com/hashicorp/go-plugin) && \
	inc="-Iipbench_plugin=plugins/proto -Iipbench_plugin/goplugin=$$gp/internal/plugin -Iipbench_plugin/health=plugins/python/proto" && \
	protoc $$inc --python_out=plugins/python $(PY_PROTOS) && \
	if command -v grpc_python_plugin >/dev/null; then \
		protoc $$inc --plugin=protoc-gen-grpc_python=$$(command -v grpc_python_plugin) --grpc_python_out=plugins/python $(PY_PROTOS); \
	else \
		/usr/bin/python3 -m grpc_tools.protoc $$inc --grpc_python_out=plugins/python $(PY_PROTOS); \
	fi

# ONNX Runtime, where `make onnxruntime` installed it and the environment
# names none: the feature-network tests (LPIPS, FID, KID) then run instead
# of skipping.
ORT_LIB := $(abspath $(wildcard third_party/onnxruntime/libonnxruntime.so.1))
ifneq ($(ORT_LIB),)
ONNXRUNTIME_SHARED_LIBRARY_PATH ?= $(ORT_LIB)
export ONNXRUNTIME_SHARED_LIBRARY_PATH
endif

# vet, a gofmt check, then every test.
test: vet fmt-check
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# The embedded default benchmark: configs/default.yaml into its record and
# report (report.md, report.html, CSV/JSON, plots), then the exact-posterior
# check of every solver on the MCGdiff family. No downloads; about ten
# minutes on 2 cores.
bench: build
	@mkdir -p results
	$(BIN)/ipbench run configs/default.yaml
	$(BIN)/ipbench report results/default | tee results/default-report.md
	$(BIN)/ipbench gmm referee --solvers $(SOLVERS) --nfe 20,100 --dims 8,80 --obs 1,2,4 --problems 2 --n 1000 --seed 1 | tee results/gmm-referee.md
	@if [ -d ../shared/data/ffhq ] && [ -d ../shared/data/imagenet-val ]; then \
		$(BIN)/ipbench run configs/real32.yaml && \
		$(BIN)/ipbench report results/real32 | tee results/real32-report.md; \
	else echo "real-image section skipped: ../shared/data (held-out FFHQ and ImageNet images) is not here"; fi
	@echo "record: results/default/record.sqlite (sample images beside it); report: results/default/report/report.html and results/default-report.md; exact-posterior table: results/gmm-referee.md; real images: results/real32/report/report.html and results/real32-report.md"

# Every solver plugin of the repository.
SOLVERS := eps,restorer,dps,pigdm,ddrm,ddnm,diffpir,daps,mpgd,pinv,tikhonov

# Every solver on every task of image-shaped mixtures against the exact
# posterior with 200 samples per run (about 15 minutes; the README's table).
images: build
	@mkdir -p results
	$(BIN)/ipbench gmm images --size 3x32x32 --solvers $(SOLVERS) --nfe 20,100 --n 200 --seed 1 | tee results/gmm-images.md

# The full referee table of the README (d up to 800; about 15 minutes).
referee: build
	$(BIN)/ipbench gmm referee --solvers eps,dps --nfe 20,50,100 --dims 8,80,800 --obs 1,2,4 --problems 3 --n 2000 --seed 1

# Go benchmarks, including the EPS acceptance benchmark.
gobench:
	$(GO) test -run XXX -bench . -benchtime 1x ./harness/sample/ ./harness/operator/

# ONNX Runtime 1.24.1 (linux-x64 CPU) for LPIPS/FID/KID, from the npm package
# onnxruntime-node; then export ONNXRUNTIME_SHARED_LIBRARY_PATH as it prints.
onnxruntime:
	scripts/onnxruntime.sh third_party/onnxruntime

clean:
	rm -rf $(BIN) results
