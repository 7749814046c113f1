"""Every project and planner route is in the OpenAPI document with its errors."""

from __future__ import annotations

import httpx

ROUTES = {
    ("post", "/v1/projects"): ("CreateProject", {"201", "403", "409", "422"}),
    ("get", "/v1/projects"): ("ListProjects", {"200", "401", "422"}),
    ("get", "/v1/projects/{project_id}"): ("GetProject", {"200", "404"}),
    ("patch", "/v1/projects/{project_id}"): ("UpdateProject", {"200", "403", "404", "409", "422"}),
    ("post", "/v1/projects/{project_id}/pause"): ("PauseProject", {"200", "404", "409"}),
    ("post", "/v1/projects/{project_id}/resume"): ("ResumeProject", {"200", "404", "409"}),
    ("post", "/v1/projects/{project_id}/close"): ("CloseProject", {"200", "404", "409"}),
    ("post", "/v1/projects/{project_id}/plan"): ("PlanProjectFunnel", {"200", "403", "404", "422"}),
}


async def test_routes_are_documented_with_their_errors(staff_client: httpx.AsyncClient) -> None:
    response = await staff_client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for (method, path), (operation_id, statuses) in ROUTES.items():
        operation = paths[path][method]
        assert operation["operationId"] == operation_id
        assert statuses <= set(operation["responses"]), (path, set(operation["responses"]))
    components = response.json()["components"]["schemas"]
    assert {"ProjectSettings", "CallingWindow", "Disposition", "RetryPolicy", "FunnelPlan"} <= set(
        components
    )
