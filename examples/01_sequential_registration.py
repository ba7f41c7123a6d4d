"""Simple sequential workflow: register a user in five traced steps.

The guide's ``register_user_workflow``, runnable: ``python examples/01_sequential_registration.py``.
Flaky steps are retried with ``vaquero.workflow.retry`` (each attempt is its own span) and the
duplicate check records its branch with ``vaquero.workflow.decision``. No collector needed:
set ``OTEL_TRACES_EXPORTER=vaquero_console`` to see the trees in the terminal.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import _sim as sim
from _sim import TransientError

import vaquero
from vaquero import workflow

_EXISTING_USERS = {"taken@example.com": {"id": "u_0001"}}
_next_id = itertools.count(1000)


# --- the simulated services the guide leaves undefined ----------------------------------------
async def validate_user_data(user_data: dict) -> dict:
    await sim.latency()
    if "@" not in user_data.get("email", ""):
        raise ValueError("invalid email address")
    return {"email": user_data["email"].lower(), "name": user_data.get("name", "")}


async def check_existing_user(email: str) -> dict | None:
    await sim.latency()
    return _EXISTING_USERS.get(email)


@workflow.retry(attempts=4, backoff=0.01, retry_on=(TransientError,))
async def create_user_in_database(validated_data: dict) -> str:
    await sim.latency(10, 40)
    sim.flaky(0.2, "users-db")
    return f"u_{next(_next_id)}"


@workflow.retry(attempts=4, backoff=0.01, retry_on=(TransientError,))
async def send_welcome_email(user_id: str, email: str) -> bool:
    await sim.latency(10, 50)
    sim.flaky(0.3, "mail-gateway")
    return True


async def update_user_analytics(user_id: str, event: str) -> None:
    await sim.latency()


# --- the guide's workflow ---------------------------------------------------------------------
@vaquero.trace(agent_name="user_registration_workflow")
async def register_user_workflow(user_data: dict) -> dict:
    """Complete user registration workflow with comprehensive tracing."""
    workflow_id = f"reg_{int(time.time())}"

    with vaquero.span("user_registration_workflow") as workflow_span:
        workflow_span.set_attribute("workflow_id", workflow_id)
        workflow_span.set_attribute("workflow_type", "user_registration")
        workflow_span.set_attribute("user_email", user_data.get("email", "unknown"))

        # Step 1: Validate user data
        with vaquero.span("data_validation") as validate_span:
            validate_span.set_attribute("validation_type", "user_registration")

            try:
                validated_data = await validate_user_data(user_data)
                validate_span.set_attribute("validation_successful", True)
                validate_span.set_attribute("validated_fields", list(validated_data.keys()))
            except Exception as e:
                validate_span.set_attribute("validation_successful", False)
                validate_span.set_attribute("validation_error", str(e))
                raise

        # Step 2: Check for existing user
        with vaquero.span("duplicate_check") as check_span:
            check_span.set_attribute("check_type", "email_uniqueness")

            existing_user = await check_existing_user(validated_data["email"])
            workflow.decision(
                "duplicate_check",
                "reject" if existing_user else "create",
                reason="email already registered" if existing_user else "new email",
            )
            if existing_user:
                check_span.set_attribute("user_exists", True)
                check_span.set_attribute("existing_user_id", existing_user["id"])
                raise ValueError("User already exists")
            else:
                check_span.set_attribute("user_exists", False)

        # Step 3: Create user in database
        with vaquero.span("user_creation") as create_span:
            create_span.set_attribute("creation_method", "database_insert")

            user_id = await create_user_in_database(validated_data)
            create_span.set_attribute("created_user_id", user_id)
            create_span.set_attribute("creation_successful", True)

        # Step 4: Send welcome email
        with vaquero.span("welcome_email") as email_span:
            email_span.set_attribute("email_template", "welcome_v1")
            email_span.set_attribute("recipient_email", validated_data["email"])

            email_sent = await send_welcome_email(user_id, validated_data["email"])
            email_span.set_attribute("email_delivered", email_sent)

        # Step 5: Update analytics
        with vaquero.span("analytics_update") as analytics_span:
            analytics_span.set_attribute("event_type", "user_registration")
            analytics_span.set_attribute("user_id", user_id)

            await update_user_analytics(user_id, "registration_completed")
            analytics_span.set_attribute("analytics_updated", True)

        # Workflow completion
        workflow_span.set_attribute("workflow_completed", True)
        workflow_span.set_attribute("final_user_id", user_id)

        return {
            "workflow_id": workflow_id,
            "user_id": user_id,
            "status": "completed",
            "steps_completed": 5,
        }


async def _run() -> None:
    signups = [
        {"email": "ada@example.com", "name": "Ada"},
        {"email": "grace@example.com", "name": "Grace"},
        {"email": "taken@example.com", "name": "Someone Else"},  # fails the duplicate check
    ]
    for user_data in signups:
        try:
            result = await register_user_workflow(user_data)
            print(f"registered {user_data['email']}: {result['user_id']}")
        except ValueError as error:
            print(f"rejected {user_data['email']}: {error}")
        except TransientError as error:  # every retry failed: the trace shows each attempt
            print(f"failed {user_data['email']}: {error}")


def main(seed: int | None = None) -> None:
    sim.seed(seed)
    asyncio.run(_run())


if __name__ == "__main__":
    main(sim.seed_from_argv())
