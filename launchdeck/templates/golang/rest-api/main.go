// A REST API: GET /health and GET|POST /echo, which returns the request's parameters.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
)

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// -healthcheck makes the binary probe its own /health: distroless images have no curl or wget.
func healthcheck(port string) {
	resp, err := http.Get("http://localhost:" + port + "/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		os.Exit(1)
	}
	os.Exit(0)
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	check := flag.Bool("healthcheck", false, "probe /health and exit")
	flag.Parse()
	if *check {
		healthcheck(port)
	}
	http.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]string{"status": "OK"})
	})
	http.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		params := map[string]string{}
		for key, values := range r.URL.Query() {
			params[key] = values[0]
		}
		reply(w, http.StatusOK, map[string]any{"method": "GET", "params": params})
	})
	http.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			reply(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"method": "POST", "params": body})
	})
	log.Printf("listening on port %s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
