// Who has the board open, from the channel's runtime state (BoardChannel.RuntimeState.viewers).
import type { ReactElement } from "react";

export function Viewers(props: { readonly viewers: readonly string[]; readonly me: string }): ReactElement {
  const others = props.viewers.filter((name) => name !== props.me);
  return (
    <p className="viewers" data-testid="viewers" aria-live="polite" title={props.viewers.join(", ")}>
      {props.viewers.map((name) => (
        <span key={name} className={`avatar${name === props.me ? " me" : ""}`} data-testid="viewer" data-viewer={name}>
          {name.slice(0, 1).toUpperCase()}
        </span>
      ))}
      <span className="viewers-text">
        {others.length === 0 ? "Only you are here" : `${others.join(", ")} ${others.length === 1 ? "is" : "are"} here too`}
      </span>
    </p>
  );
}
