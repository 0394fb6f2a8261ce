// The page part of an integration in React: the element, a session from your own back end
// (which creates it with its tenant token), the verdict handed to the parent.
import { useEffect, useRef } from "react";
import { submitCapture } from "liveness-capture";

export function LivenessCheck({ apiBase, onVerdict }) {
  const element = useRef(null);
  useEffect(() => {
    const capture = element.current;
    capture.sessionProvider = async () =>
      (await fetch("/liveness-session", { method: "POST" })).json();
    const onCapture = async (event) => onVerdict(await submitCapture(apiBase, event.detail[0]));
    capture.addEventListener("capture", onCapture);
    return () => capture.removeEventListener("capture", onCapture);
  }, [apiBase, onVerdict]);
  return <liveness-capture ref={element} api-base={apiBase} />;
}
