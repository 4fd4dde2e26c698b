package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// op is one operation of a load run, done by worker w as its call i. It
// returns an error when the operation failed (the sample is then counted
// as an error, not as a latency).
type op func(ctx context.Context, w, i int) error

// loadResult is what a closed-loop run measured.
type loadResult struct {
	lat      []time.Duration
	errs     int
	firstErr error
	wall     time.Duration
	// count, when not 0, is the number of operations the rate counts
	// (when one sample covers several, e.g. a transaction of records).
	count int
}

func (r loadResult) summary() Summary {
	s := summarize(r.lat)
	s.Errors = r.errs
	if r.wall > 0 {
		n := len(r.lat)
		if r.count > 0 {
			n = r.count
		}
		s.Rate = float64(n) / r.wall.Seconds()
	}
	return s
}

// runLoad runs fn from conc workers in a closed loop (each worker starts its
// next call when the previous one returned) until dur has passed or, when
// maxOps > 0, maxOps calls were started.
func runLoad(ctx context.Context, conc int, dur time.Duration, maxOps int, fn op) loadResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		started atomic.Int64
		mu      sync.Mutex
		res     loadResult
		wg      sync.WaitGroup
	)
	t0 := time.Now()
	deadline := t0.Add(dur)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			var errs int
			var firstErr error
			for i := 0; ; i++ {
				if ctx.Err() != nil || (dur > 0 && time.Now().After(deadline)) {
					break
				}
				if maxOps > 0 && started.Add(1) > int64(maxOps) {
					break
				}
				s := time.Now()
				err := fn(ctx, w, i)
				d := time.Since(s)
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errs += errs
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.wall = time.Since(t0)
	return res
}

// client is an HTTP client for one server with keep-alive connections
// enough for the concurrency it is used with.
type client struct {
	base string
	auth string // the Authorization header value, or ""
	hc   *http.Client
}

func newClient(base, userKey string, conns int) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	c := &client{base: base, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
	if userKey != "" {
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(userKey))
	}
	return c
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends one request and returns the status and body.
func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, b, nil
}

// expect sends a request and fails unless the status is want.
func (c *client) expect(ctx context.Context, want int, method, path string, body []byte) ([]byte, error) {
	code, b, err := c.do(ctx, method, path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != want {
		return b, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, code, want, b)
	}
	return b, nil
}
