"""Memory stays bounded: a dead collector cannot grow the queue; exported spans are freed."""

from __future__ import annotations

from conftest import clean_env, closed_port, file_env, run_python


def test_spans_are_garbage_collected_after_export(tmp_path):
    result = run_python(
        """
        import gc, weakref, vaquero
        refs = []
        for i in range(200):
            with vaquero.span("freed", i=i, payload="x" * 100) as span:
                refs.append(weakref.ref(span.otel_span))
        del span  # the user's own last reference
        assert vaquero.flush(5.0)
        gc.collect()
        print(sum(ref() is not None for ref in refs))
        """,
        env=file_env(tmp_path / "t.jsonl"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_a_dead_collector_keeps_the_queue_and_rss_bounded():
    result = run_python(
        """
        import resource, vaquero
        from vaquero._pipeline import install as _setup

        def rss_mb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        for i in range(20_000):  # warm up: the queue fills, allocator pools settle
            with vaquero.span("work", i=i, note="n" * 64):
                pass
        before = rss_mb()
        for i in range(300_000):
            with vaquero.span("work", i=i, note="n" * 64):
                pass
        growth = rss_mb() - before
        queue = _setup.runtime().queues[0]
        print(len(queue._queue) <= 2048, queue.drops.queue_full > 250_000, round(growth))
        """,
        env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}",
                      VAQUERO_SHUTDOWN_TIMEOUT="0.5"),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    bounded, dropped, growth = result.stdout.split()
    assert bounded == "True" and dropped == "True"
    # 300,000 spans held in memory would be hundreds of MB; a bounded queue stays flat.
    assert int(growth) < 40, f"RSS grew by {growth} MB"
    assert "spans are being dropped" in result.stderr
    assert "queue full:" in result.stderr
