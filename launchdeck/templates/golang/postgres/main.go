// A web service on a managed PostgreSQL: GET /items lists, POST /items {"name": ...} adds.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
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
	ctx := context.Background()
	db, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatalf("database: %v", err)
	}
	if _, err := db.Exec(ctx, "CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL)"); err != nil {
		log.Fatalf("database: %v", err)
	}
	http.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if err := db.Ping(r.Context()); err != nil {
			reply(w, http.StatusServiceUnavailable, map[string]string{"status": err.Error()})
			return
		}
		reply(w, http.StatusOK, map[string]string{"status": "OK"})
	})
	http.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.Query(r.Context(), "SELECT id, name FROM items ORDER BY id")
		if err != nil {
			reply(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		defer rows.Close()
		items := []map[string]any{}
		for rows.Next() {
			var id int
			var name string
			rows.Scan(&id, &name)
			items = append(items, map[string]any{"id": id, "name": name})
		}
		reply(w, http.StatusOK, items)
	})
	http.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Name string }
		json.NewDecoder(r.Body).Decode(&body)
		name := strings.TrimSpace(body.Name)
		if name == "" {
			reply(w, http.StatusBadRequest, map[string]string{"error": "name is required"})
			return
		}
		var id int
		if err := db.QueryRow(r.Context(), "INSERT INTO items (name) VALUES ($1) RETURNING id", name).Scan(&id); err != nil {
			reply(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		reply(w, http.StatusCreated, map[string]any{"id": id, "name": name})
	})
	log.Printf("listening on port %s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
