// Command loadgen is the benchmark's load generator and its fast upstream.
//
//	loadgen serve -listen 127.0.0.1:0 -portfile PATH
//	    a plain-HTTP upstream answering every request with a small 200 (writes its port to PATH)
//	loadgen run -url URL [-cert C -key K -ca CA] -c 16 -d 10s -warmup 2s
//	    keep-alive load over -c connections (mTLS when -cert is given); prints one JSON result
package main

import (
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
	fs.Parse(args)

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
				MaxConnsPerHost: 1, DisableCompression: true, ForceAttemptHTTP2: false}
			client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
			own := make([]time.Duration, 0, 1<<16)
			for !stop.Load() {
				start := time.Now()
				resp, err := client.Get(*url)
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
