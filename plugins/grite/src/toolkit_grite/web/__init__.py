"""`grite webui`: a browser UI served from the package (no CDN), imported only by that command."""
