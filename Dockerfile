# Multi-stage build: a static binary on a minimal base, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/universe-operator ./cmd/universe-operator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/universe-operator /usr/local/bin/universe-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/universe-operator"]
CMD ["run", "--config", "/etc/universe-operator/config.yaml"]
