# berth: build, run, test. `make run` is the README's first set-up command.
GO        ?= go
BIN       ?= bin/berth
PREFIX    ?= /usr/local
UNITDIR   ?= /etc/systemd/system
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
DEMO_REF  ?= localhost/berth-demo:latest

export CGO_ENABLED = 0

.PHONY: build demo-image run test vet install bench clean

# hack/build makes the lean CLI with the full build and the lean init binary
# embedded (see internal/embedbin).
build:
	GO=$(GO) hack/build $(BIN) -trimpath -ldflags '$(LDFLAGS)'

# The demo image the examples use, built from the project's own code.
demo-image: build
	rm -rf bin/demo-rootfs && mkdir -p bin/demo-rootfs/bin bin/demo-rootfs/etc bin/demo-rootfs/tmp
	$(GO) build -trimpath -ldflags '-s -w' -o bin/demo-rootfs/bin/demo ./examples/demo
	printf 'root:x:0:0:root:/root:/bin/demo\nnobody:x:65534:65534:nobody:/:/bin/demo\napp:x:1000:1000:app:/:/bin/demo\n' > bin/demo-rootfs/etc/passwd
	printf 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n' > bin/demo-rootfs/etc/group
	chmod 1777 bin/demo-rootfs/tmp
	$(BIN) image import --rootfs bin/demo-rootfs $(DEMO_REF)

# Build, import the demo image, and run the daemon on its default paths.
run: demo-image
	mkdir -p /etc/berth/manifests
	$(BIN) daemon

test:
	$(GO) test ./...

vet:
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...
	$(GO) vet -tags berthlean ./cmd/berth

# Install the binary and the systemd unit (its ExecStart follows PREFIX),
# then: systemctl daemon-reload && systemctl enable --now berth
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/berth
	mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/berth|$(PREFIX)/bin/berth|' berth.service > $(DESTDIR)$(UNITDIR)/berth.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/berth.service
	mkdir -p $(DESTDIR)/etc/berth/manifests

bench: build
	$(GO) run ./bench

clean:
	rm -rf bin
