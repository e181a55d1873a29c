# Trellis container image.
#
# This machine (and CI) can pull no base image, so the image is built FROM scratch
# around a static binary that is compiled on the host first:
#
#   CGO_ENABLED=0 go build -trimpath -o bin/trellis ./cmd/trellis
#   docker build -t trellis:dev .
#
# (`make image` does both.) The binary needs nothing from a base image: no libc,
# no shell; the health check is the binary itself.
FROM scratch
COPY bin/trellis /trellis
COPY examples/ai-governance /examples/ai-governance
VOLUME ["/data"]
EXPOSE 8080 7000
HEALTHCHECK --interval=2s --timeout=2s --start-period=2s --retries=30 \
  CMD ["/trellis", "health", "--endpoint", "http://127.0.0.1:8080"]
ENTRYPOINT ["/trellis"]
CMD ["serve", "--data-dir", "/data", "--http-addr", "0.0.0.0:8080"]
