// A chat service on a managed LLM: POST /chat {"message": ...} answers {"reply": ...}.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
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

func ask(message string) (string, error) {
	url := strings.TrimSuffix(os.Getenv("LLM_URL"), "/") + "/chat/completions"
	payload, _ := json.Marshal(map[string]any{
		"model":    os.Getenv("LLM_MODEL"),
		"messages": []map[string]string{{"role": "user", "content": message}},
	})
	resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("LLM answered %d", resp.StatusCode)
	}
	var out struct {
		Choices []struct{ Message struct{ Content string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Choices) == 0 {
		return "", fmt.Errorf("unexpected LLM answer")
	}
	return out.Choices[0].Message.Content, nil
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
	http.HandleFunc("POST /chat", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Message string }
		json.NewDecoder(r.Body).Decode(&body)
		if strings.TrimSpace(body.Message) == "" {
			reply(w, http.StatusBadRequest, map[string]string{"error": "message is required"})
			return
		}
		answer, err := ask(body.Message)
		if err != nil {
			reply(w, http.StatusBadGateway, map[string]string{"error": "the LLM did not answer: " + err.Error()})
			return
		}
		reply(w, http.StatusOK, map[string]string{"reply": answer})
	})
	log.Printf("listening on port %s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
