"""The browser runtime (plain JS, no build step), served at ``/.perseus/client.js``."""
