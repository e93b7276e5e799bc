"""kodama-lsp: the language server (import name kodama_lsp)."""
