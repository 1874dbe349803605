// Who has the board open: the runtime state `viewers` of `boardPresenceChannel` (a channel of its own, so
// the board's stream carries only the board). Opening this component is what lists you there.
import type { ReactElement } from "react";
import { useBoardPresenceChannel } from "../generated/hooks";

export function Viewers(props: { readonly boardId: string; readonly me: string }): ReactElement {
  const { runtime } = useBoardPresenceChannel({ boardId: props.boardId });
  const viewers = runtime?.viewers ?? [];
  const others = viewers.filter((name) => name !== props.me);
  return (
    <p className="viewers" data-testid="viewers" aria-live="polite" title={viewers.join(", ")}>
      {viewers.map((name) => (
        <span key={name} className={`avatar${name === props.me ? " me" : ""}`} data-testid="viewer" data-viewer={name}>
          {name.slice(0, 1).toUpperCase()}
        </span>
      ))}
      <span className="viewers-text">
        {viewers.length === 0 ? "" : others.length === 0 ? "Only you are here" : `${others.join(", ")} ${others.length === 1 ? "is" : "are"} here too`}
      </span>
    </p>
  );
}
