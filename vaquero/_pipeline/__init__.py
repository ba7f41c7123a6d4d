"""The export side: everything between a finished span and the wire.

``install`` builds or adopts the provider; ``queue`` moves finished spans off the app thread;
``scrub`` cleans them there; ``split`` keeps requests under the transport's size limit;
``exporters`` builds the OTLP/console/file exporters; ``lifecycle`` flushes at exit, on
SIGTERM and across fork; ``integrations`` switches on the context-carrying instrumentations.
See docs/architecture.md for the path of a span through them.
"""
