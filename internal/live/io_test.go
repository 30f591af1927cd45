package live

import (
	"io"
	"net/http"
)

func io_copy(w io.Writer, resp *http.Response) (int64, error) { return io.Copy(w, resp.Body) }
