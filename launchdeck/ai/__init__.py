"""The AI tools: scaffolding projects (generate.py) and explaining failures (debug.py),
with or without an LLM (llm.py)."""
