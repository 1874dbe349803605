// The board's columns and cards with drag and drop (dnd-kit): a card is dragged by its handle (or moved
// with the keyboard: focus the handle, Space, arrows, Space) within its column or into another one.
// The drop shows at once as an optimistic layer (both columns' card lists and the card's column); the
// `moveCard` mutation renumbers the columns on the server, and a refusal rolls the layer back.
import { useState } from "react";
import type { FormEvent, ReactElement } from "react";
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  closestCorners,
  useDroppable,
  useSensor,
  useSensors,
} from "@dnd-kit/core";
import type { DragEndEvent, DragOverEvent, DragStartEvent } from "@dnd-kit/core";
import { SortableContext, arrayMove, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { moveCard } from "../generated";
import type { BoardChannelActions, BoardState, CardState, ColumnState } from "../generated";
import { useRxConnection } from "../generated/hooks";
import type { Session } from "../session";
import { CardView, CardFace } from "./CardView";
import { DONE } from "./writer";
import type { Writer } from "./writer";

const cardKey = (id: string): string => `card-${id}`;
const columnKey = (id: string): string => `column-${id}`;

interface DragData {
  readonly columnId: string;
}

export interface Mover {
  /** Put `card` at `index` of column `targetId` (0 is the top). */
  move(card: CardState, fromId: string, targetId: string, index: number): void;
}

export function Columns(props: {
  readonly state: BoardState;
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
  readonly session: Session;
}): ReactElement {
  const { state, writer } = props;
  const connection = useRxConnection();
  const [dragging, setDragging] = useState<CardState | null>(null);
  const [overColumn, setOverColumn] = useState<string | null>(null);
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 4 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
  const columnOf = (id: string): ColumnState | undefined => state.columns.find((column) => column.id === id);

  const mover: Mover = {
    move(card, fromId, targetId, index) {
      const from = columnOf(fromId);
      const target = columnOf(targetId);
      if (from === undefined || target === undefined || connection === null) return;
      const fromIds = from.cards.map((other) => other.id);
      const upserts =
        from.id === target.id
          ? [{ __typename: "Column", id: from.id, cards: arrayMove(fromIds, fromIds.indexOf(card.id), index) }]
          : [
              { __typename: "Column", id: from.id, cards: fromIds.filter((id) => id !== card.id) },
              { __typename: "Column", id: target.id, cards: insertAt(target.cards.map((other) => other.id), index, card.id) },
            ];
      void writer.run({ upserts: [...upserts, { __typename: "Card", id: card.id, column: target.id, position: index }] }, () =>
        moveCard(connection, { cardId: card.id, columnId: target.id, position: index }).then(() => DONE),
      );
    },
  };

  const onDragStart = (event: DragStartEvent): void => {
    const id = String(event.active.id).replace(/^card-/, "");
    setDragging(state.columns.flatMap((column) => column.cards).find((card) => card.id === id) ?? null);
  };
  const onDragOver = (event: DragOverEvent): void => {
    setOverColumn((event.over?.data.current as DragData | undefined)?.columnId ?? null);
  };
  const onDragEnd = (event: DragEndEvent): void => {
    setDragging(null);
    setOverColumn(null);
    const { active, over } = event;
    if (over === null) return;
    const fromId = (active.data.current as DragData | undefined)?.columnId;
    const targetId = (over.data.current as DragData | undefined)?.columnId;
    if (fromId === undefined || targetId === undefined) return;
    const from = columnOf(fromId);
    const target = columnOf(targetId);
    const card = from?.cards.find((candidate) => cardKey(candidate.id) === active.id);
    if (from === undefined || target === undefined || card === undefined) return;
    const overIndex = target.cards.findIndex((candidate) => cardKey(candidate.id) === over.id);
    const index = overIndex >= 0 ? overIndex : from.id === target.id ? target.cards.length - 1 : target.cards.length;
    if (from.id === target.id && from.cards.indexOf(card) === index) return;
    mover.move(card, from.id, target.id, index);
  };

  return (
    <DndContext
      sensors={sensors}
      collisionDetection={closestCorners}
      onDragStart={onDragStart}
      onDragOver={onDragOver}
      onDragEnd={onDragEnd}
      onDragCancel={() => {
        setDragging(null);
        setOverColumn(null);
      }}
    >
      <div className="columns">
        {state.columns.map((column) => (
          <ColumnView key={column.id} column={column} {...props} mover={mover} over={overColumn === column.id} />
        ))}
      </div>
      <DragOverlay>{dragging !== null ? <CardFace card={dragging} overlay /> : null}</DragOverlay>
    </DndContext>
  );
}

function insertAt(ids: readonly string[], index: number, id: string): string[] {
  const copy = [...ids];
  copy.splice(Math.max(0, Math.min(index, copy.length)), 0, id);
  return copy;
}

function ColumnView(props: {
  readonly column: ColumnState;
  readonly state: BoardState;
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
  readonly session: Session;
  readonly mover: Mover;
  /** A dragged card would land in this column. */
  readonly over: boolean;
}): ReactElement {
  const { column, actions, writer } = props;
  const { setNodeRef } = useDroppable({ id: columnKey(column.id), data: { columnId: column.id } satisfies DragData });
  return (
    <section
      ref={setNodeRef}
      className={`column${props.over ? " over" : ""}`}
      data-testid="column"
      data-column-title={column.title}
      data-column-id={column.id}
    >
      <h2>
        {column.title} <span className="count">{column.cards.length}</span>
        {column.cards.length === 0 && (
          <button
            type="button"
            className="delete-column"
            aria-label={`Delete column ${column.title}`}
            onClick={() => void writer.call(() => actions.deleteColumn({ columnId: Number(column.id) }))}
          >
            ×
          </button>
        )}
      </h2>
      <SortableContext items={column.cards.map((card) => cardKey(card.id))} strategy={verticalListSortingStrategy}>
        {column.cards.map((card) => (
          <SortableCard key={card.id} card={card} {...props} />
        ))}
      </SortableContext>
      <AddCard column={column} actions={actions} writer={writer} />
    </section>
  );
}

function SortableCard(props: {
  readonly card: CardState;
  readonly column: ColumnState;
  readonly state: BoardState;
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
  readonly session: Session;
  readonly mover: Mover;
}): ReactElement {
  const { card, column } = props;
  const sortable = useSortable({ id: cardKey(card.id), data: { columnId: column.id } satisfies DragData });
  const style = { transform: CSS.Transform.toString(sortable.transform), transition: sortable.transition ?? undefined };
  return (
    <div ref={sortable.setNodeRef} style={style} className={sortable.isDragging ? "dragging" : ""}>
      <CardView
        {...props}
        columns={props.state.columns}
        handle={
          <button
            type="button"
            className="drag-handle"
            aria-label={`Drag ${card.title || "card"}`}
            data-testid="drag-handle"
            ref={sortable.setActivatorNodeRef}
            {...sortable.attributes}
            {...sortable.listeners}
          >
            ⠿
          </button>
        }
      />
    </div>
  );
}

function AddCard(props: {
  readonly column: ColumnState;
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
}): ReactElement {
  const { column, actions, writer } = props;
  const [title, setTitle] = useState("");
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const cleaned = title.trim();
    if (!cleaned) return;
    setTitle("");
    const tempId = writer.tempId();
    const position = column.cards.length;
    const card = {
      __typename: "Card",
      id: tempId,
      title: cleaned,
      description: "",
      position,
      estimate: null,
      dueAt: null,
      column: column.id,
      assignee: null,
      creator: null,
      labels: [],
      comments: [],
      reminders: [],
      commentCount: 0,
    };
    void writer.run(
      { upserts: [card], insertRefs: [{ type: "Column", id: column.id, field: "cards", ref: tempId }] },
      () => actions.createCard({ data: { title: cleaned, column: column.id, position } }),
      tempId,
    );
  };
  return (
    <form className="add-card" onSubmit={submit}>
      <input
        aria-label={`New card in ${column.title}`}
        placeholder="Add a card"
        value={title}
        onChange={(event) => setTitle(event.target.value)}
      />
      <button type="submit" disabled={!title.trim()}>
        Add
      </button>
    </form>
  );
}
