// A worker on a managed Redis: POST /jobs {"task": ...} queues, the worker processes, GET /jobs/done lists.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

func work(ctx context.Context, store *redis.Client) {
	for {
		item, err := store.BLPop(ctx, 5*time.Second, "jobs").Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			log.Printf("redis unavailable: %v", err)
			time.Sleep(2 * time.Second)
			continue
		}
		store.RPush(ctx, "done", fmt.Sprintf("%s processed at %d", item[1], time.Now().Unix()))
		log.Printf("processed %s", item[1])
	}
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
	options, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatalf("REDIS_URL: %v", err)
	}
	store := redis.NewClient(options)
	go work(context.Background(), store)
	http.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if err := store.Ping(r.Context()).Err(); err != nil {
			reply(w, http.StatusServiceUnavailable, map[string]string{"status": err.Error()})
			return
		}
		reply(w, http.StatusOK, map[string]string{"status": "OK"})
	})
	http.HandleFunc("GET /jobs/done", func(w http.ResponseWriter, r *http.Request) {
		done, _ := store.LRange(r.Context(), "done", 0, -1).Result()
		reply(w, http.StatusOK, done)
	})
	http.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Task string }
		json.NewDecoder(r.Body).Decode(&body)
		task := strings.TrimSpace(body.Task)
		if task == "" {
			reply(w, http.StatusBadRequest, map[string]string{"error": "task is required"})
			return
		}
		store.RPush(r.Context(), "jobs", task)
		reply(w, http.StatusAccepted, map[string]string{"queued": task})
	})
	log.Printf("listening on port %s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
