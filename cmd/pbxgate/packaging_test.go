package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLicenseIsApache2(t *testing.T) {
	b, err := os.ReadFile("../../LICENSE")
	require.NoError(t, err)
	assert.Contains(t, string(b), "Apache License")
	assert.Contains(t, string(b), "Version 2.0, January 2004")
}

// TestContainerfile checks the recipe's promises in its text, and, where
// podman is installed, builds the image and checks the built image's
// config (this machine can build images but not run them).
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("../../Containerfile")
	require.NoError(t, err)
	text := string(b)
	for _, want := range []string{
		"COPY pbxgate /usr/local/bin/pbxgate", "ca-certificates tzdata", "USER 65532:65532",
		`VOLUME ["/var/lib/pbxgate"]`, "EXPOSE 8080", `CMD ["/usr/local/bin/pbxgate", "health"]`,
		`ENTRYPOINT ["/usr/local/bin/pbxgate"]`, `CMD ["serve"]`,
	} {
		assert.Contains(t, text, want)
	}
	if testing.Short() {
		t.Skip("builds the binary and the image")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed (apt-get install podman): the image is not built")
	}
	// The base image comes from a registry; without network (or a local
	// copy) there is nothing to build on.
	base := regexp.MustCompile(`(?m)^FROM (\S+)`).FindStringSubmatch(text)[1]
	if exec.Command(podman, "image", "exists", base).Run() != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, podman, "pull", "--quiet", base).CombinedOutput(); err != nil {
			t.Skipf("the base image %s is not here and cannot be pulled (%v: %s): the image is not built", base, err, bytes.TrimSpace(out))
		}
	}
	ctxDir := t.TempDir()
	bin, err := os.ReadFile(binary(t))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "pbxgate"), bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Containerfile"), b, 0o644))
	tag := fmt.Sprintf("localhost/pbxgate-test:%d", time.Now().UnixNano())
	out, err := exec.Command(podman, "build", "-f", filepath.Join(ctxDir, "Containerfile"), "-t", tag, ctxDir).CombinedOutput()
	require.NoError(t, err, "podman build:\n%s", out)
	defer exec.Command(podman, "rmi", "-f", tag).Run()
	out, err = exec.Command(podman, "image", "inspect", "--format", "{{json .Config}}", tag).Output()
	require.NoError(t, err)
	var cfg struct {
		User         string
		Entrypoint   []string
		Cmd          []string
		Volumes      map[string]any
		ExposedPorts map[string]any
		Env          []string
		Healthcheck  struct{ Test []string }
	}
	require.NoError(t, json.Unmarshal(out, &cfg), "%s", out)
	assert.Equal(t, "65532:65532", cfg.User)
	assert.Equal(t, []string{"/usr/local/bin/pbxgate"}, cfg.Entrypoint)
	assert.Equal(t, []string{"serve"}, cfg.Cmd)
	assert.Contains(t, cfg.Volumes, "/var/lib/pbxgate")
	assert.Contains(t, cfg.ExposedPorts, "8080/tcp")
	assert.Contains(t, cfg.Env, "PBXGATE_DATA=/var/lib/pbxgate")
	assert.Contains(t, strings.Join(cfg.Healthcheck.Test, " "), "/usr/local/bin/pbxgate health")
}

func TestCLIHealth(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy.Load() {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	e := newCLIEnv(t)
	assert.Contains(t, e.ok("health", "--url", srv.URL+"/healthz"), "healthy: "+srv.URL+"/healthz")
	assert.Contains(t, e.ok("health", "--listen", strings.TrimPrefix(srv.URL, "http://")), "healthy")
	healthy.Store(false)
	assert.Contains(t, e.fail(1, "health", "--url", srv.URL+"/healthz"), "unhealthy: "+srv.URL+"/healthz answered 503")
	srv.Close()
	assert.Contains(t, e.fail(1, "health", "--url", srv.URL+"/healthz"), "unhealthy: ")
}
