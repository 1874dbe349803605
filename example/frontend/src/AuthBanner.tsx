import type { ReactElement } from "react";
import type { Connection } from "./generated";
import { useConnectionStatus } from "./generated/runtime/hooks.js";

/** Says so when the server refused the session's token (close code 4403), with a way to sign in again. */
export function AuthBanner(props: { readonly connection: Connection; readonly onSignOut: () => void }): ReactElement | null {
  const status = useConnectionStatus(props.connection);
  if (status !== "unauthorized") return null;
  const code = props.connection.lastClose.value?.code;
  return (
    <p className="error auth-banner" role="alert" data-testid="auth-banner">
      The server refused your session{code === undefined ? "" : ` (close code ${code})`}: it was signed out or
      revoked. What you see may be out of date.{" "}
      <button type="button" onClick={props.onSignOut}>
        Sign in again
      </button>
    </p>
  );
}
