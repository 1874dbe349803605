// A tiny router over the history API: "/", "/chat/<id>", "/board/<id>".
import { useEffect, useState } from "react";

export type Route =
  | { readonly page: "home" }
  | { readonly page: "chat"; readonly id: string }
  | { readonly page: "board"; readonly id: string };

export function parseRoute(path: string): Route {
  const match = /^\/(chat|board)\/(\d+)\/?$/.exec(path);
  if (match?.[1] === "chat" && match[2] !== undefined) return { page: "chat", id: match[2] };
  if (match?.[1] === "board" && match[2] !== undefined) return { page: "board", id: match[2] };
  return { page: "home" };
}

const listeners = new Set<() => void>();

export function navigate(path: string): void {
  if (window.location.pathname !== path) window.history.pushState(null, "", path);
  for (const listener of listeners) listener();
}

export function useRoute(): Route {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = (): void => setPath(window.location.pathname);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return parseRoute(path);
}

/** An in-app link: a real <a href> (open in a new tab works) that navigates without a reload. */
export function linkHandler(path: string): (event: { preventDefault(): void; metaKey: boolean; ctrlKey: boolean }) => void {
  return (event) => {
    if (event.metaKey || event.ctrlKey) return;
    event.preventDefault();
    navigate(path);
  };
}
