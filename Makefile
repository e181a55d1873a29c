# The README's test command is `go test ./...`; `make test` is the same thing.
.PHONY: test ci build run fuzz

test:
	go test ./...

ci:
	bash .ci/run

build:
	CGO_ENABLED=0 go build -o bin/trellis ./cmd/trellis

run:
	go run ./cmd/trellis serve --insecure-no-auth --schema examples/ai-governance/schema.zed --relationships examples/ai-governance/relationships.txt

image:
	CGO_ENABLED=0 go build -trimpath -o bin/trellis ./cmd/trellis
	docker build -t trellis:dev .
