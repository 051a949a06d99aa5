"""A local web page, and the same view inside an assistant, to watch deployments as they run.

Everything it shows is read through the tools (ps with the record fallback, the deployment
record, logs, debug_failure, the plan; tools/deployment.py for a target known only by its
record), never from the engine or a provider's own code:

    catalog.py   the (provider, project, stack) targets it knows: the histories every
                 provider keeps, local deployment records, and the project on disk it was
                 started with
    view.py      what the page shows of one target (its services, history, plan, rollback
                 preview), with config values scrubbed out
    watch.py     deploys, rollbacks and destroys started from the page, and the events kept
                 of them
    guard.py     the token, Host and Origin checks every request passes
    web.py       the Starlette application: the page, its JSON API, server-sent events
    serve.py     binds 127.0.0.1, makes the token, runs uvicorn
    assets.py    the page's files (package data) and the MCP App document made from them
"""
