"""Pure routing logic: data in, decisions out. No faust, httpx, clock or environment here."""

from streams.routing.policy import DEFAULT_TASK_TYPE, RouteDecision, RoutingError, plan_route

__all__ = ["RouteDecision", "RoutingError", "plan_route", "DEFAULT_TASK_TYPE"]
