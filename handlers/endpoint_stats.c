#include "handlers/common.h"
#include "handlers/handlers.h"
void h_endpoint_stats(struct req *r) { reply_error(r, 501, "todo", NULL, "todo"); }
void h_endpoint_test(struct req *r) { reply_error(r, 501, "todo", NULL, "todo"); }
