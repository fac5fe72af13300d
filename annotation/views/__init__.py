"""The annotator's and the study participant's pages and their htmx partials, one module per
feature (`assignments` is the task page, then `live`, `review`, `studies`, `attachments`);
`base` holds what they share."""
