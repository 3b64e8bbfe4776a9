"""Pure routing logic: data in, decisions out. No faust, httpx, clock or environment here."""

from streams.routing.policy import RouteDecision, RoutingError, plan_route

__all__ = ["RouteDecision", "RoutingError", "plan_route"]
