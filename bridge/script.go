package bridge

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// scriptLogin is the part of a login's state that belongs to a command-line tool.
type scriptLogin struct{}

// scriptRoutes adds the routes that command-line tools use.
func (s *Server) scriptRoutes(e *echo.Echo, base string) {}

// finishScript completes a command-line login.
func (s *Server) finishScript(c echo.Context, p *proxy, st *loginState, login *oidc.Login,
	id qlik.Identity) error {
	return render(c, page{Status: http.StatusNotImplemented, Title: "Not available",
		Message: "Command-line logins are not available."})
}
