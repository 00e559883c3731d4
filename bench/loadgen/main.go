// Command loadgen is the benchmark's load generator and its fast upstream.
//
//	loadgen serve -listen 127.0.0.1:0 -portfile PATH
//	    a plain-HTTP upstream answering every request with a small 200 (writes its port to PATH)
//	loadgen run -url URL [-cert C -key K -ca CA] -c 16 -d 10s -warmup 2s
//	        [-body-bytes N] [-header 'Name: value'] [-rate R] [-new-connections]
//	    keep-alive load over -c connections (mTLS when -cert is given); prints one JSON result.
//	    -body-bytes POSTs a JSON body of N bytes instead of a GET; -rate paces the whole run at
//	    R requests/s spread over the connections; -new-connections opens a new connection (a
//	    full TLS handshake, no resumption) for every request.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen serve|run [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "run":
		run(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	portfile := fs.String("portfile", "", "write the chosen port here")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body := []byte(`{"ok":true}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	})
	if *portfile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		tmp := *portfile + ".tmp"
		os.WriteFile(tmp, []byte(fmt.Sprint(port)), 0o644)
		os.Rename(tmp, *portfile)
	}
	http.Serve(ln, handler)
}

type result struct {
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	RPS         float64 `json:"rps"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	FirstError  string  `json:"first_error,omitempty"`
}

func run(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "target URL")
	cert := fs.String("cert", "", "client certificate (PEM)")
	key := fs.String("key", "", "client key (PEM)")
	ca := fs.String("ca", "", "CA bundle that signed the server (PEM)")
	conns := fs.Int("c", 16, "connections (one request in flight on each)")
	duration := fs.Duration("d", 10*time.Second, "measured duration")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	bodyBytes := fs.Int("body-bytes", 0, "POST a JSON body of this many bytes (0: GET)")
	rate := fs.Float64("rate", 0, "total requests per second, spread over the connections (0: as fast as answered)")
	newConns := fs.Bool("new-connections", false, "a new connection (full handshake) per request")
	var headers headerList
	fs.Var(&headers, "header", "'Name: value' added to every request (repeatable)")
	fs.Parse(args)
	body := jsonBody(*bodyBytes)

	tlsConfig := &tls.Config{ServerName: "localhost"}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fail(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tlsConfig.RootCAs = pool
	}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fail(err)
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}

	var measuring atomic.Bool
	var stop atomic.Bool
	var errors atomic.Int64
	var firstError atomic.Value
	latencies := make([][]time.Duration, *conns)
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// One transport per worker: exactly one keep-alive connection each.
			transport := &http.Transport{TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 1,
				MaxConnsPerHost: 1, DisableCompression: true, ForceAttemptHTTP2: false,
				DisableKeepAlives: *newConns}
			client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
			own := make([]time.Duration, 0, 1<<16)
			var tick *time.Ticker
			if *rate > 0 {
				interval := time.Duration(float64(time.Second) * float64(*conns) / *rate)
				// Stagger the connections so the requests are spread evenly over time.
				time.Sleep(interval * time.Duration(i) / time.Duration(*conns))
				tick = time.NewTicker(interval)
				defer tick.Stop()
			}
			for !stop.Load() {
				if tick != nil {
					<-tick.C
				}
				start := time.Now()
				resp, err := send(client, *url, body, headers)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				elapsed := time.Since(start)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errors.Add(1)
					firstError.CompareAndSwap(nil, err.Error())
					continue
				}
				own = append(own, elapsed)
			}
			latencies[i] = own
		}(i)
	}
	time.Sleep(*warmup)
	measuring.Store(true)
	began := time.Now()
	time.Sleep(*duration)
	measuring.Store(false)
	seconds := time.Since(began).Seconds()
	stop.Store(true)
	wg.Wait()

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	r := result{Connections: *conns, Seconds: seconds, Requests: int64(len(all)),
		Errors: errors.Load(), RPS: float64(len(all)) / seconds}
	if len(all) > 0 {
		r.P50Ms = float64(all[len(all)*50/100]) / 1e6
		r.P99Ms = float64(all[len(all)*99/100]) / 1e6
	}
	if e, ok := firstError.Load().(string); ok {
		r.FirstError = e
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// jsonBody is a JSON object of exactly n bytes (nil for n == 0).
func jsonBody(n int) []byte {
	if n == 0 {
		return nil
	}
	head, tail := `{"model":"bench","input":"`, `"}`
	if n < len(head)+len(tail) {
		fail(fmt.Errorf("-body-bytes must be at least %d", len(head)+len(tail)))
	}
	filler := strings.Repeat("lorem ipsum dolor sit amet ", n/27+1)[:n-len(head)-len(tail)]
	return []byte(head + filler + tail)
}

func send(client *http.Client, url string, body []byte, headers headerList) (*http.Response, error) {
	method := http.MethodGet
	var reader io.Reader
	if body != nil {
		method = http.MethodPost
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return client.Do(req)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
