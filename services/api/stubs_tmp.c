#include "api.h"
bool api_routes_analytics (api_t *api, tk_error_t *err) { (void) api; (void) err; return true; }
bool api_routes_export (api_t *api, tk_error_t *err) { (void) api; (void) err; return true; }
bool api_routes_openapi (api_t *api, tk_error_t *err) { (void) api; (void) err; return true; }
