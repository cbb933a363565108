/** The call's recording, fetched with the session token (an <audio src> could not send it). */
import { useEffect, useRef } from "react";
import { useQuery } from "@tanstack/react-query";
import { Alert, Anchor, Stack } from "@mantine/core";
import { fetchBlobUrl } from "../api/client";
import { ApiProblem } from "../api/problem";
import { ErrorState, Loading } from "./PageState";

/** `seek` (a new object each time) moves playback to `ms` into the recording and plays;
 * `fileName` names the download for its media type. */
export function RecordingPlayer({ url, fileName, seek }: { url: string; fileName: (type: string) => string; seek?: { ms: number } | null }) {
  const audio = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    if (!seek || !audio.current) return;
    audio.current.currentTime = seek.ms / 1000;
    // A browser may refuse to play without a gesture; the position is set either way.
    audio.current.play().catch(() => {});
  }, [seek]);
  const blob = useQuery({ queryKey: ["recording", url], queryFn: () => fetchBlobUrl(url), staleTime: Infinity, retry: false });
  useEffect(() => () => { if (blob.data) URL.revokeObjectURL(blob.data.url); }, [blob.data]);
  if (blob.isPending) return <Loading what="the recording" />;
  if (blob.error instanceof ApiProblem && blob.error.status === 404) {
    // Expired by the retention policy, deleted, or not served by this deployment.
    return <Alert color="gray" title="Recording unavailable" role="alert">{blob.error.message}</Alert>;
  }
  if (blob.error) return <ErrorState error={blob.error} />;
  if (blob.data.bytes === 0) {
    // A call that ended before any media was written: a player would show a dead 0:00.
    return <Alert color="gray" title="No audio recorded" role="alert">The call ended before any sound reached the recorder.</Alert>;
  }
  return (
    <Stack gap={4}>
      <audio ref={audio} controls src={blob.data.url} style={{ width: "100%" }} aria-label="Call recording" />
      <Anchor href={blob.data.url} download={fileName(blob.data.type)} size="sm">Download recording</Anchor>
    </Stack>
  );
}
