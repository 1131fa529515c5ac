package bridge

import (
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"

	"github.com/labstack/echo/v4"
)

const ctxRequestID = "qob.request_id"

func (s *Server) routes() {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = s.handleError
	e.Use(s.middleware)

	base := s.cfg.Server.public.Path
	e.GET(base+"/login", s.login)
	e.GET(base+"/callback", s.callback)
	e.GET(base+"/logout", s.logout)
	e.POST(base+"/logout", s.logout)
	e.POST(base+"/backchannel-logout", s.backchannelLogout)
	s.scriptRoutes(e, base)
	e.GET(base+"/healthz", health)
	e.HEAD(base+"/healthz", health)
	if base != "" {
		e.GET(base, s.home)
	}
	e.GET(base+"/", s.home)
	s.echo = e
}

// middleware gives each request an id, safe headers, a recovered panic and one log line.
// The log line names the path only: a query may hold a code or a state.
func (s *Server) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		start := s.now()
		id := newRequestID()
		c.Set(ctxRequestID, id)
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy",
			"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")

		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic", "request_id", id, "panic", fmt.Sprint(r))
				err = render(c, page{Status: http.StatusInternalServerError,
					Title:   "Something went wrong on our side",
					Message: "The login could not be completed because of an internal error.",
					Next:    "Try again in a moment; if it happens again, give the reference below to your administrator."})
			}
			if err != nil {
				c.Error(err)
			}
			s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request",
				slog.String("request_id", id),
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.Int("status", c.Response().Status),
				slog.Duration("duration", s.now().Sub(start)))
		}()
		return next(c)
	}
}

// handleError turns what echo could not route into a page.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	}
	p := page{Status: status, Title: http.StatusText(status),
		Message: "This address is not part of the Qlik login."}
	if status == http.StatusMethodNotAllowed {
		p.Message = "This address of the Qlik login does not take that kind of request."
	}
	if status >= 500 {
		s.log.Error("request failed", "request_id", requestID(c), "err", err)
		p.Message = "The login could not be completed because of an internal error."
		p.Next = "Try again in a moment; if it happens again, give the reference below to your administrator."
	}
	_ = render(c, p)
}

func health(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

func (s *Server) home(c echo.Context) error {
	return render(c, page{
		Title:     "Qlik Sense login",
		Message:   "This service signs you in to Qlik Sense with your organisation's account.",
		LinkURL:   s.cfg.Server.public.String() + "/login",
		LinkLabel: "Sign in to Qlik Sense",
	})
}

var refEncoding = base32.NewEncoding("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").WithPadding(base32.NoPadding)

// newRequestID returns a short random id that a person can read out to an administrator.
// It ties a page to the log and is no secret.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], mrand.Uint64())
	return refEncoding.EncodeToString(b[:5])
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}
