"""`kb serve` and `kb mcp`: one warm process answering over HTTP (JSON API, MCP) and stdio (MCP).

The server wraps the library (kb.KnowledgeBase) and holds no retrieval logic. One module per job:
settings (address, tokens, allowed hosts, from options and environment), engine (the knowledge
base, kept warm, and the one thread that runs its calls), schemas (what requests take and give),
routes (the JSON API), auth (Host/Origin checks, read tokens), limits (body size, queue, handout
size), access_log, errors (the JSON error shape), mcp_tools (MCP over streamable HTTP and stdio),
app (puts them together), run (binds the socket and serves).
"""
