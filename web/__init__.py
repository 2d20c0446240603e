"""The live page's assets (HTML, JS, CSS and the centrifuge-js bundle), shipped as package data."""
