"""Parallel workflow execution: validate and process a batch of users concurrently.

The guide's ``process_user_batch``, runnable: ``python examples/02_parallel_batch.py``.
Its hand-written ``asyncio.gather`` + count blocks are ``vaquero.workflow.parallel`` calls here:
one span per group that records total/succeeded/failed/cancelled and the slowest member.
"""

from __future__ import annotations

import asyncio
import time

import _sim as sim
from _sim import TransientError

import vaquero
from vaquero import workflow


# --- the simulated services the guide leaves undefined ----------------------------------------
@vaquero.trace
async def validate_single_user(user_data: dict) -> dict:
    await sim.latency(2, 15)
    if "@" not in user_data["email"]:
        raise ValueError(f"invalid email for user {user_data['id']}")
    return user_data


@workflow.retry(attempts=4, backoff=0.005, retry_on=(TransientError,))
async def process_single_user(user: dict) -> dict:
    await sim.latency(2, 12)
    sim.flaky(0.15, "profile-service")
    return {**user, "processed": True}


# --- the guide's workflow ---------------------------------------------------------------------
@vaquero.trace(agent_name="parallel_processing_workflow")
async def process_user_batch(users: list) -> dict:
    """Process multiple users in parallel with workflow tracing."""
    workflow_id = f"batch_{int(time.time())}"

    with vaquero.span("batch_processing_workflow") as workflow_span:
        workflow_span.set_attribute("workflow_id", workflow_id)
        workflow_span.set_attribute("workflow_type", "batch_processing")
        workflow_span.set_attribute("batch_size", len(users))

        # Step 1: Validate all users (the group span counts failures for us)
        validation_tasks = [validate_single_user(user_data) for user_data in users]
        validation_results = await workflow.parallel(
            *validation_tasks, name="batch_validation", validation_strategy="parallel"
        )
        failed_validations = [
            i for i, result in enumerate(validation_results) if isinstance(result, Exception)
        ]
        if failed_validations:
            raise ValueError(f"Validation failed for {len(failed_validations)} users")

        # Step 2: Process users in parallel batches
        batch_size = 10
        user_batches = [users[i : i + batch_size] for i in range(0, len(users), batch_size)]

        batch_tasks = []
        for batch_num, batch in enumerate(user_batches):
            batch_task = process_user_batch_chunk(batch, batch_num)
            batch_tasks.append(batch_task)

        # Execute batches in parallel (at most 4 chunks at once)
        batch_results = await workflow.parallel(
            *batch_tasks, name="parallel_processing", limit=4,
            processing_strategy="parallel_batches",
        )

        # Step 3: Aggregate results
        with vaquero.span("result_aggregation") as aggregation_span:
            aggregation_span.set_attribute("aggregation_strategy", "consolidate_results")

            total_processed = sum(
                len(result.get("processed_users", []))
                for result in batch_results
                if not isinstance(result, Exception)
            )

            aggregation_span.set_attribute("total_users_processed", total_processed)
            aggregation_span.set_attribute("processing_successful", True)

        # Workflow completion
        workflow_span.set_attribute("workflow_completed", True)
        workflow_span.set_attribute("total_users_processed", total_processed)

        return {
            "workflow_id": workflow_id,
            "total_users": len(users),
            "processed_users": total_processed,
            "batch_results": len(batch_results),
            "status": "completed",
        }


async def process_user_batch_chunk(users: list, batch_num: int) -> dict:
    """Process a chunk of users with individual tracing."""
    # The guide names these spans batch_chunk_{n} and process_user_{id}; a fixed span name
    # keeps names low-cardinality (Jaeger groups by name), and the number is an attribute.
    with vaquero.span("batch_chunk") as span:
        span.set_attribute("batch_number", batch_num)
        span.set_attribute("chunk_size", len(users))

        processed_users = []

        for user in users:
            with vaquero.span("process_user") as user_span:
                user_span.set_attribute("user_id", user["id"])
                user_span.set_attribute("user_email", user["email"])

                # Process individual user
                processed_user = await process_single_user(user)
                processed_users.append(processed_user)

                user_span.set_attribute("processing_successful", True)

        span.set_attribute("users_processed", len(processed_users))
        return {"processed_users": processed_users, "batch_number": batch_num}


def main(seed: int | None = None) -> None:
    sim.seed(seed)
    users = [{"id": f"user_{n:03d}", "email": f"user{n}@example.com"} for n in range(12)]
    result = asyncio.run(process_user_batch(users))
    print(f"processed {result['processed_users']}/{result['total_users']} users "
          f"in {result['batch_results']} chunks")


if __name__ == "__main__":
    main(sim.seed_from_argv())
