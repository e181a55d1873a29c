// Package docker holds the end-to-end test of the docker-compose cluster
// (docker-compose.yml at the repository root). It runs only with the build tag
// "docker" and skips when no Docker engine answers:
//
//	go test -tags docker -timeout 20m ./test/docker/
package docker
