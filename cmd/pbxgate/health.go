package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

func runHealth(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("health", "health [--url URL] [--config FILE] [--listen ADDR]", `
Check that a running gateway answers /healthz: exit 0 when it does, 1 when
not. For container and service health checks; the image's HEALTHCHECK runs
it. Without --url it asks the configured listen address (a wildcard
address is asked on 127.0.0.1).

Examples:
  pbxgate health
  pbxgate health --url https://pbx.example.com/healthz`)
	cfgPath := fs.String("config", c.Getenv("PBXGATE_CONFIG"), "configuration `FILE` (env PBXGATE_CONFIG)")
	listen := fs.String("listen", "", "`ADDR` the gateway listens on (env PBXGATE_LISTEN; default "+DefaultListen+")")
	url := fs.String("url", "", "`URL` to ask instead, e.g. https://pbx.example.com/healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("pbxgate health --url URL", "health takes no arguments")
	}
	target := *url
	scheme := "http"
	if target == "" {
		cfg, err := LoadConfig(*cfgPath, c.Getenv)
		if err != nil {
			return err
		}
		if cfg.TLS.CertFile != "" {
			scheme = "https"
		}
		addr := resolve(cfg, *cfgPath, "", "", *listen, c.Getenv).listen
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("listen %q is not host:port", addr)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		target = scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	}
	hctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodGet, target, nil)
	if err != nil {
		return usagef("pbxgate health --url http://127.0.0.1:8080/healthz", "--url %q: %s", target, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", target, resp.Status)
	}
	fmt.Fprintf(c.Stdout, "healthy: %s\n", target)
	return nil
}
